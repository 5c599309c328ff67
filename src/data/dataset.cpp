// PLACEHOLDER until the readers land.
