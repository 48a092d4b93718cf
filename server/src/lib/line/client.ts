import { messagingApi } from "@line/bot-sdk";

/**
 * Our handle on the LINE Platform: the official SDK client for what it covers, plain fetch for what it does not
 * (template PNP). The base URL is configurable because the SDK drops path prefixes: the sandbox emulator serves
 * LINE's real paths at the root of its own port.
 */
export interface LineApi {
  baseUrl: string;
  channelAccessToken: string;
  client: messagingApi.MessagingApiClient;
}

export function createLineApi(opts: { baseUrl: string; channelAccessToken: string }): LineApi {
  return {
    baseUrl: opts.baseUrl.replace(/\/$/, ""),
    channelAccessToken: opts.channelAccessToken,
    client: new messagingApi.MessagingApiClient({ channelAccessToken: opts.channelAccessToken, baseURL: opts.baseUrl }),
  };
}
