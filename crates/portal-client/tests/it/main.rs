//! Integration tests of portal-client against real sockets on 127.0.0.1 (port 0): raw HTTP/1.1
//! servers that misbehave on purpose (redirects, bombs, drips, silence) and serve real signed
//! IPSP/1 documents built with portal-proto.

mod client;
mod examples;
mod fetch;
mod fixtures;
mod server;
