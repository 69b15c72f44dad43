// tsx test/lab/cli.ts up|down|status   (npm run lab:up / npm run lab:down)
import { bringUp, status, tearDown } from "./lab.js";

const log = (m: string) => process.stderr.write(`lab: ${m}\n`);

async function main(cmd: string | undefined): Promise<number> {
  switch (cmd) {
    case "up": {
      try {
        const info = await bringUp({ log });
        process.stdout.write(JSON.stringify(info, null, 2) + "\n");
        return 0;
      } catch (e) {
        log(`bring-up failed: ${e instanceof Error ? e.message : String(e)}`);
        log("the half-made lab stays for inspection; 'npm run lab:down' removes it");
        return 1;
      }
    }
    case "down": {
      await tearDown({ log });
      return 0;
    }
    case "status": {
      process.stdout.write(JSON.stringify(await status(), null, 2) + "\n");
      return 0;
    }
    default:
      process.stderr.write("usage: tsx test/lab/cli.ts up|down|status\n");
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (e) => {
    log(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
