/**
 * Provider payloads as their API references document them (field order and all), used by the
 * local upstream servers. Token counts are chosen so every class (cache reads, 5m/1h cache
 * writes, reasoning) is non-zero.
 */
export const OPENAI_CHAT = {
  id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
  object: 'chat.completion',
  created: 1741570283,
  model: 'gpt-4o-2024-08-06',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I assist you today?', refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
  usage: {
    prompt_tokens: 2006,
    completion_tokens: 300,
    total_tokens: 2306,
    prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 192, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  },
  service_tier: 'default',
  system_fingerprint: 'fp_fc9f1d7035',
};

export const OPENAI_STREAM_USAGE = {
  prompt_tokens: 1500,
  completion_tokens: 12,
  total_tokens: 1512,
  prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
};

export const OPENAI_STREAM_TEXT = ['Hello', '!', ' How', ' can', ' I', ' help', ' you', ' today', '?'];
/** A long answer (~6 MB of events) for backpressure: more than a slow client's socket buffers hold. */
export const OPENAI_LONG_TEXT = Array.from({ length: 25_000 }, (_, i) => ` word${i}`);

/** The chat.completion.chunk events of one stream; with include_usage every chunk carries "usage":null and a last usage-only chunk follows. */
export function openaiChatStream(includeUsage: boolean, model = 'gpt-4o-mini-2024-07-18', text: string[] = OPENAI_STREAM_TEXT): string[] {
  const head = { id: 'chatcmpl-123', object: 'chat.completion.chunk', created: 1694268190, model, service_tier: 'default', system_fingerprint: 'fp_44709d6fcb' };
  const chunks: Record<string, unknown>[] = [
    { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }] },
    ...text.map((t) => ({ ...head, choices: [{ index: 0, delta: { content: t }, logprobs: null, finish_reason: null }] })),
    { ...head, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] },
  ];
  const out = chunks.map((c) => `data: ${JSON.stringify(includeUsage ? { ...c, usage: null } : c)}\n\n`);
  if (includeUsage) out.push(`data: ${JSON.stringify({ ...head, choices: [], usage: OPENAI_STREAM_USAGE })}\n\n`);
  out.push('data: [DONE]\n\n');
  return out;
}

export const OPENAI_RESPONSE = {
  id: 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b',
  object: 'response',
  created_at: 1741476542,
  status: 'completed',
  error: null,
  incomplete_details: null,
  instructions: null,
  max_output_tokens: null,
  model: 'gpt-4.1-2025-04-14',
  output: [{ type: 'message', id: 'msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'In a peaceful grove beneath a silver moon...', annotations: [] }] }],
  parallel_tool_calls: true,
  previous_response_id: null,
  reasoning: { effort: null, summary: null },
  store: true,
  temperature: 1.0,
  text: { format: { type: 'text' } },
  tool_choice: 'auto',
  tools: [],
  top_p: 1.0,
  truncation: 'disabled',
  usage: { input_tokens: 36, input_tokens_details: { cached_tokens: 10 }, output_tokens: 87, output_tokens_details: { reasoning_tokens: 20 }, total_tokens: 123 },
  user: null,
  metadata: {},
};

export function openaiResponsesStream(): string[] {
  const r = { ...OPENAI_RESPONSE, status: 'in_progress', output: [], usage: null };
  const evs: Array<[string, Record<string, unknown>]> = [
    ['response.created', { type: 'response.created', response: r, sequence_number: 0 }],
    ['response.in_progress', { type: 'response.in_progress', response: r, sequence_number: 1 }],
    ['response.output_item.added', { type: 'response.output_item.added', output_index: 0, item: { id: 'msg_1', status: 'in_progress', type: 'message', role: 'assistant', content: [] }, sequence_number: 2 }],
    ['response.output_text.delta', { type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'In a peaceful grove', sequence_number: 3 }],
    ['response.output_text.delta', { type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: ' beneath a silver moon...', sequence_number: 4 }],
    ['response.completed', { type: 'response.completed', response: OPENAI_RESPONSE, sequence_number: 5 }],
  ];
  return evs.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`);
}

export const OPENAI_EMBEDDING = {
  object: 'list',
  data: [{ object: 'embedding', embedding: [0.0023064255, -0.009327292, -0.0028842222], index: 0 }],
  model: 'text-embedding-3-small',
  usage: { prompt_tokens: 8, total_tokens: 8 },
};

export const ANTHROPIC_USAGE = {
  input_tokens: 2095,
  cache_creation_input_tokens: 2500,
  cache_read_input_tokens: 1800,
  cache_creation: { ephemeral_5m_input_tokens: 2000, ephemeral_1h_input_tokens: 500 },
  output_tokens: 503,
  service_tier: 'standard',
};

export const ANTHROPIC_MESSAGE = {
  id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [{ type: 'text', text: 'Hi! My name is Claude.' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: ANTHROPIC_USAGE,
};

/** The documented Messages event stream; message_delta's usage is cumulative. */
export function anthropicStream(model = 'claude-sonnet-4-5-20250929'): string[] {
  const evs: Array<[string, Record<string, unknown>]> = [
    ['message_start', { type: 'message_start', message: { id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY', type: 'message', role: 'assistant', content: [], model, stop_reason: null, stop_sequence: null, usage: { input_tokens: 472, cache_creation_input_tokens: 300, cache_read_input_tokens: 1200, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 300 }, output_tokens: 2, service_tier: 'standard' } } }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    ['ping', { type: 'ping' }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Okay' } }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ', let' } }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: "'s count to three." } }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { input_tokens: 472, cache_creation_input_tokens: 300, cache_read_input_tokens: 1200, output_tokens: 89 } }],
    ['message_stop', { type: 'message_stop' }],
  ];
  return evs.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`);
}

export const BEDROCK_CONVERSE = {
  output: { message: { role: 'assistant', content: [{ text: 'Hello from Bedrock.' }] } },
  stopReason: 'end_turn',
  usage: { inputTokens: 125, outputTokens: 60, totalTokens: 385, cacheReadInputTokens: 150, cacheWriteInputTokens: 50 },
  metrics: { latencyMs: 1175 },
};

// ---- Google Gemini API (generativelanguage.googleapis.com), as documented -------------------------

/** generateContent of a thinking model: thoughts billed as output, reported as reasoning. */
export const GEMINI_THINKING = {
  candidates: [{ content: { parts: [{ text: 'The sky is blue because of Rayleigh scattering.' }], role: 'model' }, finishReason: 'STOP', index: 0 }],
  usageMetadata: { promptTokenCount: 11, candidatesTokenCount: 12, totalTokenCount: 1021, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 11 }], thoughtsTokenCount: 998 },
  modelVersion: 'gemini-2.5-pro',
  responseId: 'mK2xaPbUO9ylz7IPq7C-wAQ',
};

/** generateContent against cached content, with a tool-use prompt. */
export const GEMINI_CACHED = {
  candidates: [{ content: { parts: [{ text: 'Summary of the cached document.' }], role: 'model' }, finishReason: 'STOP', index: 0 }],
  usageMetadata: {
    promptTokenCount: 40123, candidatesTokenCount: 210, totalTokenCount: 40433, cachedContentTokenCount: 32768, toolUsePromptTokenCount: 50, thoughtsTokenCount: 50,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: 40123 }], cacheTokensDetails: [{ modality: 'TEXT', tokenCount: 32768 }],
  },
  modelVersion: 'gemini-2.5-flash',
  responseId: 'cached-resp-1',
};

/** A long-context call over 200k prompt tokens (Gemini 2.5 Pro's upper price tier). */
export const GEMINI_LONG = {
  candidates: [{ content: { parts: [{ text: 'Long answer.' }], role: 'model' }, finishReason: 'STOP', index: 0 }],
  usageMetadata: { promptTokenCount: 250000, candidatesTokenCount: 1000, totalTokenCount: 251000, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 250000 }] },
  modelVersion: 'gemini-2.5-pro',
  responseId: 'long-resp-1',
};

/** streamGenerateContent?alt=sse: usage in every chunk, the final one in the chunk with finishReason. */
export function geminiStream(): string[] {
  const chunk = (text: string, usage: Record<string, unknown>, finish?: string) =>
    `data: ${JSON.stringify({
      candidates: [{ content: { parts: [{ text }], role: 'model' }, ...(finish ? { finishReason: finish } : {}), index: 0 }],
      usageMetadata: usage,
      modelVersion: 'gemini-2.5-flash',
      responseId: 'stream-resp-1',
    })}\r\n\r\n`;
  return [
    chunk('Hello', { promptTokenCount: 9, totalTokenCount: 9, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 9 }] }),
    chunk(' from', { promptTokenCount: 9, totalTokenCount: 9, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 9 }] }),
    chunk(' Gemini', { promptTokenCount: 9, totalTokenCount: 9, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 9 }] }),
    chunk(' today', { promptTokenCount: 9, totalTokenCount: 9, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 9 }] }),
    chunk('.', { promptTokenCount: 9, candidatesTokenCount: 4, totalTokenCount: 37, thoughtsTokenCount: 24, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 9 }] }, 'STOP'),
  ];
}
