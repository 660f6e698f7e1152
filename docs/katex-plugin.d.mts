/** Types of docs/katex-plugin.mjs (the TypeDoc plugin that typesets math with KaTeX), for its tests. */
export declare const KATEX_DIST: string;
export declare const ASSET_DIR: string;
export declare function typeset(tex: string, display: boolean, onError: (message: string) => void, output?: 'html' | 'htmlAndMathml'): string;
export declare function protectMath(markdown: string, onError?: (message: string) => void): { text: string; pieces: string[] };
export declare function restoreMath(html: string, pieces: string[]): string;
export declare function load(app: unknown): void;
