// Pulls images over the OCI distribution API: manifests (indexes resolved to one platform),
// configs and layers, each verified against its digest before it enters the blob store.
// Auth: anonymous first; on 401 the challenge decides between a bearer token (fetched from the
// challenge's realm with the configured credentials) and HTTP basic.
import { ImageError } from "./errors.js";
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { BlobStore } from "./blob-store.js";
import { sha256Digest } from "./digest.js";
import { documentKind, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, parseIndex, parseJson, parseManifest, selectPlatform, type Platform } from "./oci.js";
import { parseReference, type ImageReference } from "./reference.js";

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryOptions {
  /** Credentials by registry host[:port]. Never logged. */
  credentials?: Record<string, RegistryCredentials>;
  /** A Docker-style config.json whose `auths` supply credentials not given above. */
  dockerConfigPath?: string;
  /** Registries reached over plain HTTP; loopback hosts always are. */
  plainHttp?: string[];
  /** Registry for references without a host part; none by default. */
  defaultRegistry?: string;
  /** Per-request timeout; default 60 s. */
  timeoutMs?: number;
}

export interface PulledManifest {
  manifestDigest: string;
  manifestMediaType: string;
}

const ACCEPT = [...MANIFEST_MEDIA_TYPES, ...INDEX_MEDIA_TYPES].join(", ");

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenge(header: string): Challenge {
  const space = header.indexOf(" ");
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)="([^"]*)"/g;
  for (let m = re.exec(header); m; m = re.exec(header)) params[m[1]!.toLowerCase()] = m[2]!;
  return { scheme, params };
}

function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return name === "localhost" || name === "::1" || name.startsWith("127.");
}

export class RegistryClient {
  private readonly tokens = new Map<string, string>();

  constructor(private readonly options: RegistryOptions) {}

  private credentialsFor(registry: string): RegistryCredentials | undefined {
    const given = this.options.credentials?.[registry];
    if (given) return given;
    if (!this.options.dockerConfigPath) return undefined;
    let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
    let text: string;
    try {
      text = readFileSync(this.options.dockerConfigPath, "utf8");
    } catch (error) {
      throw new Error(`cannot read registry credentials file ${this.options.dockerConfigPath}: ${(error as NodeJS.ErrnoException).code ?? "unknown error"}`);
    }
    try {
      config = JSON.parse(text) as typeof config;
    } catch {
      // Not JSON.parse's message: it quotes the text around the error, which holds secrets.
      throw new Error(`registry credentials file ${this.options.dockerConfigPath} is not valid JSON`);
    }
    const entry = config.auths?.[registry] ?? config.auths?.[`https://${registry}`] ?? config.auths?.[`http://${registry}`];
    if (!entry) return undefined;
    if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    throw new Error(`registry credentials file ${this.options.dockerConfigPath} has an unreadable entry for ${registry}`);
  }

  private baseUrl(ref: ImageReference): string {
    const plain = isLoopback(ref.registry) || (this.options.plainHttp ?? []).includes(ref.registry);
    return `${plain ? "http" : "https"}://${ref.registry}/v2/${ref.repository}`;
  }

  private async request(ref: ImageReference, url: string, accept?: string): Promise<Response> {
    const scopeKey = `${ref.registry}/${ref.repository}`;
    const send = (authorization?: string) => {
      const headers: Record<string, string> = {};
      if (accept) headers.accept = accept;
      if (authorization) headers.authorization = authorization;
      return fetch(url, { headers, signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000) }).catch((error: Error) => {
        throw new ImageError(
          "UNAVAILABLE",
          `registry ${ref.registry} unreachable (${url}): ${error.cause instanceof Error ? error.cause.message : error.message}`,
        );
      });
    };
    const cached = this.tokens.get(scopeKey);
    let response = await send(cached);
    if (response.status !== 401) return response;
    await response.body?.cancel();
    const header = response.headers.get("www-authenticate");
    if (!header) throw new Error(`registry ${ref.registry} answered 401 without a WWW-Authenticate challenge for ${url}`);
    const authorization = await this.authorize(ref, parseChallenge(header));
    this.tokens.set(scopeKey, authorization);
    response = await send(authorization);
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new ImageError(
        "PERMISSION_DENIED",
        `registry ${ref.registry} refused access to ${ref.repository} (HTTP ${response.status}) with the configured credentials`,
      );
    }
    return response;
  }

  private async authorize(ref: ImageReference, challenge: Challenge): Promise<string> {
    const credentials = this.credentialsFor(ref.registry);
    const basic = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}` : undefined;
    if (challenge.scheme === "basic") {
      if (!basic) throw new ImageError("PERMISSION_DENIED", `registry ${ref.registry} requires credentials and none are configured for it`);
      return basic;
    }
    if (challenge.scheme !== "bearer") throw new Error(`registry ${ref.registry} asks for unsupported auth scheme "${challenge.scheme}"`);
    const realm = challenge.params.realm;
    if (!realm) throw new Error(`registry ${ref.registry} sent a bearer challenge without a realm`);
    const tokenUrl = new URL(realm);
    if (challenge.params.service) tokenUrl.searchParams.set("service", challenge.params.service);
    tokenUrl.searchParams.set("scope", challenge.params.scope ?? `repository:${ref.repository}:pull`);
    const response = await fetch(tokenUrl, {
      headers: basic ? { authorization: basic } : {},
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
    }).catch((error: Error) => {
      throw new ImageError("UNAVAILABLE", `token service of registry ${ref.registry} unreachable: ${error.message}`);
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new ImageError(
        "PERMISSION_DENIED",
        `token service of registry ${ref.registry} refused ${credentials ? "the configured credentials" : "anonymous access"} (HTTP ${response.status})`,
      );
    }
    const body = (await response.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`token service of registry ${ref.registry} returned no token`);
    return `Bearer ${token}`;
  }

  /** Fetches a manifest or index; verifies it against `expectedDigest` or the registry's header. */
  private async fetchManifest(ref: ImageReference, reference: string, expectedDigest?: string): Promise<{ bytes: Buffer; digest: string; mediaType: string }> {
    const url = `${this.baseUrl(ref)}/manifests/${reference}`;
    const response = await this.request(ref, url, ACCEPT);
    if (response.status === 404) {
      await response.body?.cancel();
      throw new ImageError("NOT_FOUND", `image ${ref.registry}/${ref.repository}:${reference} not found in registry ${ref.registry}`);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`registry ${ref.registry} answered HTTP ${response.status} for manifest ${reference} of ${ref.repository}`);
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    const digest = sha256Digest(bytes);
    const claimed = expectedDigest ?? response.headers.get("docker-content-digest") ?? undefined;
    if (claimed && claimed !== digest) {
      throw new ImageError(
        "DATA_LOSS",
        `digest mismatch for manifest ${reference} of ${ref.registry}/${ref.repository}: expected ${claimed}, content hashes to ${digest}`,
      );
    }
    const headerType = response.headers.get("content-type")?.split(";")[0]?.trim();
    const value = parseJson(bytes, `manifest ${reference} from ${ref.registry}`) as { mediaType?: string };
    const kind = documentKind(value, `manifest ${reference} from ${ref.registry}`);
    const mediaType =
      value.mediaType ??
      (headerType && [...MANIFEST_MEDIA_TYPES, ...INDEX_MEDIA_TYPES].includes(headerType)
        ? headerType
        : kind === "index"
          ? INDEX_MEDIA_TYPES[0]!
          : MANIFEST_MEDIA_TYPES[0]!);
    return { bytes, digest, mediaType };
  }

  private async fetchBlob(ref: ImageReference, digest: string, size: number, blobs: BlobStore): Promise<void> {
    if (await blobs.has(digest)) return;
    const url = `${this.baseUrl(ref)}/blobs/${digest}`;
    const response = await this.request(ref, url);
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(`registry ${ref.registry} answered HTTP ${response.status} for blob ${digest} of ${ref.repository}`);
    }
    await blobs.write(digest, Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), `registry ${ref.registry} (${ref.repository})`, size);
  }

  /** Pulls `ref` for `platform` into `blobs`; returns the digest of the image manifest. */
  async pull(refText: string, platform: Platform, blobs: BlobStore): Promise<PulledManifest> {
    const ref = parseReference(refText, this.options.defaultRegistry);
    let current = await this.fetchManifest(ref, ref.digest ?? ref.tag ?? "latest", ref.digest);
    for (let depth = 0; INDEX_MEDIA_TYPES.includes(current.mediaType); depth++) {
      if (depth > 4) throw new Error(`image ${refText}: indexes nested too deeply`);
      await blobs.write(current.digest, Readable.from([current.bytes]), `registry ${ref.registry}`);
      const index = parseIndex(parseJson(current.bytes, `index ${current.digest}`), `index ${current.digest} of ${refText}`);
      const chosen = selectPlatform(index, platform, `image ${refText}`);
      current = await this.fetchManifest(ref, chosen.digest, chosen.digest);
    }
    const manifest = parseManifest(parseJson(current.bytes, `manifest ${current.digest}`), `manifest ${current.digest} of ${refText}`);
    await this.fetchBlob(ref, manifest.config.digest, manifest.config.size, blobs);
    for (const layer of manifest.layers) await this.fetchBlob(ref, layer.digest, layer.size, blobs);
    // The manifest goes in last, so a stored manifest always has its blobs.
    await blobs.write(current.digest, Readable.from([current.bytes]), `registry ${ref.registry}`);
    return { manifestDigest: current.digest, manifestMediaType: current.mediaType };
  }
}
