import { serve } from "@powerstrip/adapter-sdk";
import { adapter } from "./adapter.js";

// `powerstrip load` gives the container a socket directory and sets POWERSTRIP_ADAPTER_SOCKET;
// serve() listens there and stops gracefully on SIGTERM. During development:
//   PORT=8080 node dist/main.js   and   powerstrip load --url http://127.0.0.1:8080
const port = process.env.PORT === undefined ? undefined : Number(process.env.PORT);
await serve(adapter, port === undefined ? {} : { port });
