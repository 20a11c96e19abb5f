/**
 * Claim-check store for activations: tensors whose inline encoding exceeds the configured size go to the
 * JetStream object store and only a reference travels through workflow history.
 */
import type { NatsConnection, ObjectStore } from 'nats';
import type { TensorRef } from '../common/contracts';
import { InvalidInputError, MissingActivationError } from '../common/errors';
import { ACTIVATIONS_BUCKET } from '../common/naming';
import { bytesToFloat32, decodeInline, float32ToBytes, inlineEncodedBytes, inlineTensor } from '../common/tensor-codec';

export interface ActivationStore {
  /** A reference to `data`: inline when small enough, otherwise stored under `key`. */
  toRef(data: Float32Array, dims: number[], key: string, inlineMaxBytes: number): Promise<TensorRef>;
  /** The tensor data behind a reference. */
  fetch(ref: TensorRef, where: string): Promise<Float32Array>;
  /**
   * Delete the objects under `keys` (those that exist) once nothing will read them again; returns how many were
   * there. Optional: stores that only hand activations on (test doubles) need not implement it.
   */
  remove?(keys: readonly string[]): Promise<number>;
}

/** An ActivationStore on the JetStream object store `bucket` (created by `ensureNatsResources`). */
export async function createActivationStore(nc: NatsConnection, bucket = ACTIVATIONS_BUCKET): Promise<ActivationStore> {
  const os: ObjectStore = await nc.jetstream().views.os(bucket);
  return {
    async toRef(data, dims, key, inlineMaxBytes) {
      const bytes = data.byteLength;
      if (inlineEncodedBytes(data.length) <= inlineMaxBytes) return inlineTensor(data, dims);
      await os.putBlob({ name: key }, float32ToBytes(data));
      return { kind: 'object', dims, bucket, key, bytes };
    },
    async fetch(ref, where) {
      if (ref.kind === 'inline') return decodeInline(ref, where);
      // A reference comes with the query (any client can write one): it may only point into this store's bucket,
      // never make this process open (and so create) another object store.
      if (ref.bucket !== bucket) {
        throw new InvalidInputError(
          `${where}: claim-checked activation names bucket ${JSON.stringify(ref.bucket)}; only ${JSON.stringify(bucket)} is accepted`,
        );
      }
      const blob = await os.getBlob(ref.key);
      if (!blob) {
        throw new MissingActivationError(
          `${where}: claim-checked activation ${ref.bucket}/${ref.key} is not in the object store (expired or deleted)`,
        );
      }
      return bytesToFloat32(blob, where);
    },
    async remove(keys) {
      let removed = 0;
      for (const key of keys) {
        // A missing object (inline hand-off, expired, deleted by another client of the query) costs one lookup.
        if ((await os.delete(key)).success) removed++;
      }
      return removed;
    },
  };
}
