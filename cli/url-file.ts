import { open } from "node:fs/promises";

/**
 * How much of a `--url-file` is read. Only its first line is the URL; a file with no line end in its
 * first 64 KiB (`/dev/zero`, a device, a log) was read to its end, which for some never comes.
 */
export const URL_FILE_READ_BYTES = 64 * 1024;
const LINE_FEED = 10;

/**
 * The start of the file at `path`: up to and including its first line end, or its first
 * {@link URL_FILE_READ_BYTES} bytes, or all of it if shorter. Both CLIs read `--url-file` with it.
 */
export async function readUrlFile(path: string): Promise<string> {
  const handle = await open(path, "r");
  try {
    const buffer = new Uint8Array(URL_FILE_READ_BYTES);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      const lineEnd = buffer.subarray(length, length + bytesRead).indexOf(LINE_FEED);
      length += bytesRead;
      if (lineEnd !== -1) break;
    }
    return new TextDecoder().decode(buffer.subarray(0, length));
  } finally {
    await handle.close();
  }
}
