// lakehost's OpenAI-compatible routes through the official `openai` npm client, as an
// application would use them: lakehost's URL + "/v1" as the client's baseURL, a lakehost
// provider id as the model. run.sh starts lakehost (default manifests: embed-hash, 384-d, plus
// chat-openai against tests/upstreams/openai_server.py) and passes LAKEHOST_URL and
// LAKEHOST_UPSTREAM_URL. Run: node --test openai_client.test.mjs
//
// Two client majors: 4.x (supports Node 18, what Debian 12 ships) always, and 6.x (Node 20+,
// what the issue was reported with) where the Node version supports it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI4 from 'openai';

const base = process.env.LAKEHOST_URL;
const upstream = process.env.LAKEHOST_UPSTREAM_URL;
assert.ok(base, 'LAKEHOST_URL is not set (run.sh sets it)');
const EMBEDDER = 'embed-hash';
const DIM = 384;
const CHAT = 'chat-openai';
const TEXTS = ['Forklift Operator on night shift', 'CNC Operator', 'héllo wörld ✓'];

const version = (pkg) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url))).version;
const nodeMajor = Number(process.versions.node.split('.')[0]);
const clients = [{ name: `openai ${version('openai')}`, load: async () => OpenAI4 }];
clients.push({
  name: `openai ${version('openai6')}`,
  load: async () => (await import('openai6')).default,
  skip: nodeMajor < 20 && `the 6.x client supports Node 20+, this is Node ${process.versions.node}`,
});

async function post(path, body) {
  const r = await fetch(base + path, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
  return r.json();
}

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

// Same float32 values, component by component.
function assertSameVector(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let j = 0; j < expected.length; ++j)
    assert.equal(Math.fround(actual[j]), Math.fround(expected[j]), `${what}: component ${j}`);
}

function assertUnitVectors(data, what) {
  assert.equal(data.length, TEXTS.length, what);
  data.forEach((d, i) => {
    assert.equal(d.index, i, what);
    assert.ok(Array.isArray(d.embedding) || d.embedding instanceof Float32Array, what);
    assert.equal(d.embedding.length, DIM, `${what}: dimension`);
    assert.ok(Math.abs(norm(Array.from(d.embedding)) - 1) < 1e-5, `${what}: norm ${norm(d.embedding)}`);
  });
}

// Asserts that `promise` rejects with the client's error class for `status`, carrying lakehost's
// code and OpenAI's type and param.
async function rejectsWith(promise, ErrorClass, status, { code, param, message } = {}) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ErrorClass, `expected ${ErrorClass.name}, got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.status, status);
    if (code !== undefined) assert.equal(err.code, code, String(err));
    if (param !== undefined) assert.equal(err.param, param, String(err));
    assert.equal(err.type, status >= 500 ? 'server_error' : 'invalid_request_error', String(err));
    if (message) assert.match(err.message, message);
    return true;
  });
}

for (const { name, load, skip } of clients) {
  describe(name, { skip }, () => {
    let OpenAI, client;
    const sent = []; // request bodies, as the client sent them
    const make = (extra = {}) =>
      new OpenAI({ apiKey: 'not-checked', baseURL: `${base}/v1`, maxRetries: 0, timeout: 20000, ...extra });

    it('loads', async () => {
      OpenAI = await load();
      client = make();
    });

    it('lists the chat and embed providers as models', { timeout: 30000 }, async () => {
      const models = [];
      for await (const m of client.models.list()) models.push(m);
      const chat = models.find((m) => m.id === CHAT);
      assert.ok(chat, JSON.stringify(models));
      assert.equal(chat.object, 'model');
      assert.equal(chat.kind, 'chat_provider');
      assert.ok(models.some((m) => m.id === EMBEDDER && m.kind === 'embed_provider'), JSON.stringify(models));
    });

    it('embeddings with the defaults: base64 asked for and decoded into unit vectors equal to float and /v1/embed', { timeout: 30000 }, async () => {
      const recording = make({
        fetch: (url, init) => {
          sent.push(JSON.parse(init.body));
          return fetch(url, init);
        },
      });
      const b64 = await recording.embeddings.create({ model: EMBEDDER, input: TEXTS });
      assert.equal(sent.at(-1).encoding_format, 'base64', 'the client asks for base64 by default');
      assert.equal(b64.object, 'list');
      assert.equal(b64.model, EMBEDDER);
      assertUnitVectors(b64.data, 'base64');

      const float = await client.embeddings.create({ model: EMBEDDER, input: TEXTS, encoding_format: 'float' });
      assertUnitVectors(float.data, 'float');
      const own = await post('/v1/embed', { texts: TEXTS, model: EMBEDDER });
      for (let i = 0; i < TEXTS.length; ++i) {
        assertSameVector(b64.data[i].embedding, float.data[i].embedding, `text ${i}: base64 vs float`);
        assertSameVector(b64.data[i].embedding, own.vectors[i], `text ${i}: base64 vs /v1/embed`);
      }
      assert.ok(float.usage.prompt_tokens > 0 && float.usage.total_tokens === float.usage.prompt_tokens);
    });

    it('embeddings of one string, explicitly float', async () => {
      const r = await client.embeddings.create({ model: EMBEDDER, input: TEXTS[0], encoding_format: 'float' });
      assert.equal(r.data.length, 1);
      assert.ok(Array.isArray(r.data[0].embedding));
      assert.ok(Math.abs(norm(r.data[0].embedding) - 1) < 1e-5);
    });

    it('base64 on the wire is little-endian float32', async () => {
      const raw = await post('/v1/embeddings', { model: EMBEDDER, input: TEXTS[0], encoding_format: 'base64' });
      const text = raw.data[0].embedding;
      assert.equal(typeof text, 'string');
      const bytes = Buffer.from(text, 'base64');
      assert.equal(bytes.length, DIM * 4);
      const values = Array.from({ length: DIM }, (_, j) => bytes.readFloatLE(4 * j));
      const float = await post('/v1/embeddings', { model: EMBEDDER, input: TEXTS[0] });
      assertSameVector(values, float.data[0].embedding, 'decoded by hand vs float (the default of the API)');
    });

    it('a bad encoding_format is a BadRequestError', async () => {
      await rejectsWith(
        client.embeddings.create({ model: EMBEDDER, input: 'x', encoding_format: 'int8' }),
        OpenAI.BadRequestError, 400, { code: 'invalid_value', param: 'encoding_format', message: /float.*base64/ });
    });

    it('dimensions: the embedder\'s own is accepted, another is a BadRequestError naming it', async () => {
      const r = await client.embeddings.create({ model: EMBEDDER, input: TEXTS, dimensions: DIM });
      assertUnitVectors(r.data, 'dimensions = 384');
      await rejectsWith(
        client.embeddings.create({ model: EMBEDDER, input: 'x', dimensions: 256 }),
        OpenAI.BadRequestError, 400, { code: 'invalid_value', param: 'dimensions', message: /384/ });
      await rejectsWith(
        client.embeddings.create({ model: EMBEDDER, input: 'x', dimensions: 0 }),
        OpenAI.BadRequestError, 400, { code: 'bad_request', param: 'dimensions' });
    });

    it('token arrays, an unknown model and a bad input are refused', async () => {
      await rejectsWith(client.embeddings.create({ model: EMBEDDER, input: [1, 2, 3] }),
        OpenAI.BadRequestError, 400, { code: 'invalid_value', param: 'input', message: /token/ });
      await rejectsWith(client.embeddings.create({ model: EMBEDDER, input: [[1, 2], [3]] }),
        OpenAI.BadRequestError, 400, { code: 'invalid_value', param: 'input[0]', message: /token/ });
      await rejectsWith(client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }),
        OpenAI.NotFoundError, 404, { code: 'model_not_found', param: 'model', message: /embed-hash/ });
      await rejectsWith(client.embeddings.create({ model: EMBEDDER, input: ['a', {}] }),
        OpenAI.BadRequestError, 400, { code: 'bad_request', param: 'input[1]' });
    });

    it('chat completion', { timeout: 30000 }, async () => {
      const r = await client.chat.completions.create({
        model: CHAT, messages: [{ role: 'user', content: 'hello there' }], temperature: 0.2, max_tokens: 50,
      });
      assert.equal(r.object, 'chat.completion');
      assert.equal(r.model, CHAT);
      assert.equal(r.choices.length, 1);
      assert.equal(r.choices[0].message.role, 'assistant');
      assert.match(r.choices[0].message.content, /^Echo: hello there \| messages: 1 /);
      assert.equal(r.choices[0].finish_reason, 'stop');
      assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
    });

    async function streamed(params) {
      const stream = await client.chat.completions.create({ model: CHAT, stream: true, ...params });
      let text = '', contentChunks = 0, finish = null, usage = null, role = null;
      for await (const chunk of stream) {
        assert.equal(chunk.object, 'chat.completion.chunk');
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices[0];
        if (!choice) continue;
        role ??= choice.delta.role;
        if (choice.delta.content) {
          text += choice.delta.content;
          ++contentChunks;
        }
        finish = choice.finish_reason ?? finish;
      }
      return { text, contentChunks, finish, usage, role };
    }

    it('streamed chat completion', { timeout: 30000 }, async () => {
      const s = await streamed({
        messages: [{ role: 'user', content: 'stream me please' }], stream_options: { include_usage: true },
      });
      assert.equal(s.role, 'assistant');
      assert.match(s.text, /^Echo: stream me please \| messages: 1 /);
      assert.ok(s.contentChunks > 3, `the reply came in ${s.contentChunks} pieces`);
      assert.equal(s.finish, 'stop');
      assert.ok(s.usage && s.usage.total_tokens > 0, JSON.stringify(s.usage));
    });

    const partsAndDeveloper = [
      { role: 'developer', content: [{ type: 'text', text: 'Be brief.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Forklift ' }, { type: 'text', text: 'drivers?' }] },
    ];
    // The test upstream echoes the user's text and the system prompt: the parts were joined, and
    // the developer message reached the provider as its system prompt.
    const expected = /^Echo: Forklift drivers\? \| messages: 2 \| system: Be brief\./;

    it('content as an array of text parts, and the developer role', { timeout: 30000 }, async () => {
      const r = await client.chat.completions.create({ model: CHAT, messages: partsAndDeveloper });
      assert.match(r.choices[0].message.content, expected);
      const s = await streamed({ messages: partsAndDeveloper });
      assert.match(s.text, expected);
    });

    it('an image part is a BadRequestError naming the field', async () => {
      await rejectsWith(
        client.chat.completions.create({
          model: CHAT,
          messages: [
            { role: 'system', content: 'x' },
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://127.0.0.1/x.png' } }] },
          ],
        }),
        OpenAI.BadRequestError, 400, { code: 'invalid_value', param: 'messages[1].content[0].type', message: /image_url/ });
      await rejectsWith(
        client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
        OpenAI.NotFoundError, 404, { code: 'model_not_found', param: 'model' });
    });

    it('a failure in the middle of a stream reaches the caller as an APIError', { timeout: 30000, skip: !upstream && 'no LAKEHOST_UPSTREAM_URL' }, async () => {
      const c = await fetch(`${upstream}/_control`, { method: 'POST', body: JSON.stringify({ stream_error_after: 2 }) });
      assert.equal(c.status, 200);
      await assert.rejects(streamed({ messages: [{ role: 'user', content: 'one two three four five' }] }), (err) => {
        assert.ok(err instanceof OpenAI.APIError, String(err));
        assert.equal(err.code, 'upstream_unavailable', String(err));
        assert.equal(err.type, 'server_error', String(err));
        return true;
      });
    });
  });

  // A host with API keys: the client's apiKey goes out as "Authorization: Bearer KEY".
  const keyed = process.env.LAKEHOST_KEYED_URL;
  describe(`${name} with API keys`, { skip: skip || (!keyed && 'no LAKEHOST_KEYED_URL') }, () => {
    let OpenAI;
    const make = (apiKey) => new OpenAI({ apiKey, baseURL: `${keyed}/v1`, maxRetries: 0, timeout: 20000 });

    it('loads', async () => {
      OpenAI = await load();
    });

    it('works with a key that has the read scope', { timeout: 30000 }, async () => {
      const client = make(process.env.LAKEHOST_READ_KEY);
      const models = [];
      for await (const m of client.models.list()) models.push(m);
      assert.ok(models.some((m) => m.id === EMBEDDER), JSON.stringify(models));
      const r = await client.embeddings.create({ model: EMBEDDER, input: TEXTS });
      assertUnitVectors(r.data, 'keyed');
      const chat = await client.chat.completions.create({ model: CHAT, messages: [{ role: 'user', content: 'hello' }] });
      assert.equal(chat.choices[0].message.role, 'assistant');
    });

    it('an unknown key is an AuthenticationError (401), for every route the client calls', async () => {
      const client = make('lh_not_a_key');
      await rejectsWith(client.embeddings.create({ model: EMBEDDER, input: 'x' }),
        OpenAI.AuthenticationError, 401, { code: 'invalid_api_key' });
      await rejectsWith(client.models.list(), OpenAI.AuthenticationError, 401, { code: 'invalid_api_key' });
      await rejectsWith(client.chat.completions.create({ model: CHAT, messages: [{ role: 'user', content: 'x' }] }),
        OpenAI.AuthenticationError, 401, { code: 'invalid_api_key' });
      await rejectsWith(client.chat.completions.create({ model: CHAT, stream: true, messages: [{ role: 'user', content: 'x' }] }),
        OpenAI.AuthenticationError, 401, { code: 'invalid_api_key' });
    });

    it('no key at all is a 401 with WWW-Authenticate; a key without the read scope is a PermissionDeniedError (403)', async () => {
      const r = await fetch(`${keyed}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: EMBEDDER, input: 'x' }) });
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="lakehost"');
      assert.equal((await r.json()).error.code, 'unauthorized');
      await rejectsWith(make(process.env.LAKEHOST_WRITE_KEY).embeddings.create({ model: EMBEDDER, input: 'x' }),
        OpenAI.PermissionDeniedError, 403, { code: 'forbidden', message: /"read" scope/ });
    });
  });
}
