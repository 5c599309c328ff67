// PLACEHOLDER until the Communicator lands.
