// sd_notify without spawning systemd-notify for each message: Node cannot send a unix
// datagram, so one small long-lived perl (perl-base is on every Debian system) reads lines on
// its stdin and sends each as a datagram to $NOTIFY_SOCKET. The agent uses it for READY=1,
// STATUS= (what it holds, for `systemctl status svcc-agent`) and STOPPING=1. If it dies,
// only these messages are lost: nothing of the agent's safety depends on them.

import { type ChildProcess, spawn } from "node:child_process";

const SCRIPT = `
use strict; use Socket;
my $path = $ENV{NOTIFY_SOCKET};
$path =~ s/^@/\\0/;
socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
my $addr = pack_sockaddr_un($path);
$| = 1;
while (my $line = <STDIN>) { $line =~ s/\\\\n/\\n/g; chomp $line; send($s, $line, 0, $addr); }
`;

export interface Notifier {
  send(message: string): void;
  close(): void;
}

export class SocketNotifier implements Notifier {
  private child?: ChildProcess;

  constructor(private readonly socket = process.env.NOTIFY_SOCKET) {}

  send(message: string): void {
    if (!this.socket) return;
    if (!this.child || this.child.exitCode !== null) {
      this.child = spawn("perl", ["-e", SCRIPT], { stdio: ["pipe", "ignore", "ignore"], env: { ...process.env, NOTIFY_SOCKET: this.socket } });
      this.child.on("error", () => undefined);
      this.child.stdin!.on("error", () => undefined);
    }
    // One datagram per line; a newline inside the message (several assignments) travels escaped.
    this.child.stdin!.write(`${message.replace(/\r/g, "").replace(/\n/g, "\\n")}\n`);
  }

  close(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }
}
