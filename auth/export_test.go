package auth

// DummyHash exposes the hash DummyCheckPassword compares against, so the
// tests can check that it uses the current parameters.
const DummyHash = dummyHash
