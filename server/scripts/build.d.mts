/** Bundles one server entry point (path relative to server/, or absolute) into `outfile` (see build.mjs). */
export declare function bundle(entry: string, outfile: string): Promise<void>;
