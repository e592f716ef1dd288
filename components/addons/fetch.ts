/** Obtains the bytes of one pinned upstream release file. */
export interface ManifestFetcher {
  /** Resolves to the file's contents; rejects when it cannot be obtained. */
  fetch(url: string): Promise<Uint8Array>;
}
