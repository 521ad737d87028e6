import { runCli, describeError } from './main';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

try {
  const code = await runCli(process.argv.slice(2), { stdin: readStdin, out: (v) => process.stdout.write(JSON.stringify(v, null, 2) + '\n') });
  process.exitCode = code;
} catch (e) {
  const { message, exitCode } = describeError(e);
  process.stderr.write(`loyalty: ${message}\n`);
  process.exitCode = exitCode;
}
