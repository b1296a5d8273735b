/**
 * Runs one src/net client call inside a network namespace and prints its
 * result as one JSON line. A Node process cannot change its own namespace,
 * so the integration tests start this with `ip netns exec <ns> node …`
 * with the tsx loader (`node --import tsx netns-runner.ts`).
 *
 *   node --import tsx netns-runner.ts '{"cmd":"dhcp-iface","iface":"eth0","mac":"dc:a6:32:01:02:03","timeoutMs":1500}'
 */
import { probeDhcp, probeDhcpOnInterface } from '../../../src/net/dhcp.js';
import { TftpError, tftpGet, tftpProbe, type TftpGetOptions } from '../../../src/net/tftp.js';

type Request =
  | { cmd: 'dhcp'; sendTo: string; mac: string; timeoutMs: number; retransmitMs?: number[] }
  | { cmd: 'dhcp-iface'; iface: string; mac: string; timeoutMs: number; retransmitMs?: number[] }
  | ({ cmd: 'tftp-get' } & TftpGetOptions)
  | ({ cmd: 'tftp-probe' } & TftpGetOptions);

function errorJson(err: unknown): unknown {
  if (err instanceof TftpError) {
    return { name: err.name, kind: err.kind, code: err.code, serverMessage: err.serverMessage, message: err.message, hint: err.hint };
  }
  return { name: (err as Error).name, message: (err as Error).message };
}

async function run(req: Request): Promise<unknown> {
  switch (req.cmd) {
    case 'dhcp':
    case 'dhcp-iface': {
      const common = { mac: req.mac, timeoutMs: req.timeoutMs, ...(req.retransmitMs && { retransmitMs: req.retransmitMs }) };
      const r = req.cmd === 'dhcp' ? await probeDhcp({ ...common, sendTo: req.sendTo }) : await probeDhcpOnInterface(req.iface, common);
      // The decoded packet holds Buffers; the summary fields say everything the tests check.
      return { ...r, answers: r.answers.map(({ packet, ...rest }) => ({ ...rest, flags: packet.flags, chaddr: packet.chaddr })) };
    }
    case 'tftp-get': {
      const { cmd: _cmd, ...options } = req;
      try {
        const { data: _data, ...r } = await tftpGet(options);
        return { ok: true, ...r };
      } catch (err) {
        return { ok: false, error: errorJson(err) };
      }
    }
    case 'tftp-probe': {
      const { cmd: _cmd, ...options } = req;
      const r = await tftpProbe(options);
      return r.ok ? r : { ...r, error: errorJson(r.error) };
    }
  }
}

const arg = process.argv[2];
if (!arg) {
  process.stderr.write('usage: netns-runner <json request>\n');
  process.exit(2);
}
run(JSON.parse(arg) as Request).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ ok: false, thrown: errorJson(err) })}\n`);
    process.exitCode = 1;
  },
);
