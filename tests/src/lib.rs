//! End-to-end test package; all tests live in e2e/.
