/** `/hooks/0/stage` (a JSON Pointer) → `hooks[0].stage`, the way people name fields. */
export function fieldPath(pointer: string, child?: string): string {
  const tokens = pointer === "" ? [] : pointer.slice(1).split("/").map(unescapeToken);
  if (child !== undefined) tokens.push(child);
  let path = "";
  for (const token of tokens) {
    if (/^(?:0|[1-9][0-9]*)$/.test(token)) path += `[${token}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(token)) path += path === "" ? token : `.${token}`;
    else path += `[${JSON.stringify(token)}]`;
  }
  return path === "" ? "(root)" : path;
}

function unescapeToken(token: string): string {
  return token.replaceAll("~1", "/").replaceAll("~0", "~");
}
