/** The floor's one activity: returns at once, so all its time is the engine's. */
export interface FloorActivities {
  noop(): Promise<void>;
}

export const floorActivities: FloorActivities = {
  async noop() {},
};
