//! Integration tests of portal-client against real sockets on 127.0.0.1 (port 0): the test
//! kit's fake HTTP server (`portal_tests::fake`), misbehaving on purpose (redirects, bombs,
//! drips, silence), serving real signed IPSP/1 documents built from the kit's fixtures.

mod client;
mod examples;
mod fetch;
mod fixtures;
