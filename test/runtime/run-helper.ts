// Runs the runtime helper from source as its own process, the way a unit runs `svcc res`:
// the real tests start it inside throwaway network namespaces with `ip netns exec`.
import { runResAction } from "../../src/runtime/index.ts";

process.exitCode = await runResAction(process.argv.slice(2));
