import { serve } from "@powerstrip/adapter-sdk";
import { adapter } from "./adapter.js";

// The socket comes from POWERSTRIP_ADAPTER_SOCKET (set by `powerstrip load`); SIGTERM stops it.
await serve(adapter);
