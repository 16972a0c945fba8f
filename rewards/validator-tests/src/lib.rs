//! Holds no code: the test in `tests/` runs the `rewards` mint engine over the RPC chain backend
//! (anchor-client) against an in-process `solana-test-validator`. It is a crate of its own so
//! that everyday builds of `rewards` need not compile the validator (rocksdb, protoc, about 16
//! minutes and 7.5 GB cold).
