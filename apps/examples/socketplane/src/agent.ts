import { serve } from "@powerstrip/adapter-sdk";
import { socketplaneAdapter } from "./adapter.js";

// The loader gives this service POWERSTRIP_ADAPTER_SOCKET (the socket directory the proxy
// handshakes over); serve() listens there, as in a single-container adapter. SIGTERM stops it.
await serve(socketplaneAdapter());
