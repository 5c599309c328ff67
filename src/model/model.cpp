// PLACEHOLDER until the model zoo lands.
