// Types of bundle.mjs (plain JavaScript so that it runs before anything compiles TypeScript).
export declare function bundleIsFresh(root: string, bundlePath: string): boolean;
export declare function ensureBundle(options: { root: string; entry: string; bundlePath: string }): Promise<boolean>;
