/**
 * HEAD: what GET would answer, without the content (RFC 9110 9.3.2). The status and header fields
 * are the GET response's; `Content-Length` is the length its content would have had (RFC 9110 8.6
 * allows no other value), since a server fills in 0 for a response that has none.
 */
export async function headResponse(response: Response): Promise<Response> {
  if (response.body === null) return response;
  const headers = new Headers(response.headers);
  if (!headers.has("content-length")) headers.set("content-length", String((await response.arrayBuffer()).byteLength));
  else await response.body.cancel();
  return new Response(null, { status: response.status, statusText: response.statusText, headers });
}
