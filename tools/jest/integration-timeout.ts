// Integration tests start child processes and talk to real servers on a loaded two-core machine:
// each test gets a generous but finite bound (jest's project-level testTimeout is not applied).
jest.setTimeout(120_000);
