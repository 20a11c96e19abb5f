/**
 * Section `telemetry`: Prometheus metrics, OpenTelemetry traces and structured logs of every process. Part of the
 * one config (config.ts imports this schema); fields and defaults are named and explained here.
 */
import { z } from 'zod';

export const telemetryConfigSchema = z.object({}).strict().prefault({});
