// --mode churn: connections opened, one message exchanged, closed, as fast as the server
// allows (issue 6 §3; claim 10 of docs/claims.md#the-claims, registration cost under churn).
//
// --active K gives K/2 slots. Each slot has a persistent partner connection sitting in a
// private room, and one churning connection at a time that: connects, waits for the welcome
// (the server accepted and registered it), sends "/join ROOM", one message and "/quit" in one
// write, and waits for the server to close it. The slot's next connection starts once the
// partner has received the message (checked like every other delivery) and the churner saw
// its EOF. So each connection costs the server one accept, one registration, one welcome, a
// join, a delivery, a /quit and a close, and the message proves the connection really worked.
//
// Why not a `/who` round trip on one connection: in `lobby` its answer lists every idle
// connection (tens of kilobytes with 19000 idle), and in a private room it needs a /join
// first anyway; the partner also gives the integrity checker a stream to check.
//
// The server closes first (/quit), so TIME_WAIT lands on the server's side and the load
// generator's ephemeral ports are not exhausted at thousands of connections per second.
#pragma once

#include <memory>

#include "Options.h"
#include "RunDriver.h"

namespace mux {

std::unique_ptr<Mode> make_churn_mode(const Options& o);

}  // namespace mux
