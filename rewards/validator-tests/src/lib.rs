//! Holds no code: the test in `tests/` runs the `rewards` RPC chain backend against an in-process
//! `solana-test-validator`. It is a crate of its own so that everyday builds of `rewards` need not
//! compile the validator (rocksdb, protoc, about 16 minutes cold).
