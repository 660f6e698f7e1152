/**
 * The package root is the library's public surface: every function and class it exports carries
 * TSDoc with an `@example`, as the project standards require, and nothing it exports comes from
 * the applications in src/apps (the experiments, the report, the CLI). The TypeScript compiler
 * resolves each export to its declaration, so a re-export of an undocumented helper or of app code
 * is caught too.
 */
import ts from 'typescript';
import { expect, it } from 'vitest';

/** Every export of src/index.ts with the declarations it resolves to (one program for both tests). */
function rootExports(): { name: string; decls: ts.Declaration[]; checker: ts.TypeChecker; symbol: ts.Symbol }[] {
  const entry = new URL('../src/index.ts', import.meta.url).pathname;
  const program = ts.createProgram([entry], { allowImportingTsExtensions: true, noEmit: true, module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  return checker.getExportsOfModule(moduleSymbol).map((exported) => {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    return { name: exported.name, decls: symbol.declarations ?? [], checker, symbol };
  });
}

let exportsCache: ReturnType<typeof rootExports> | undefined;
const exportsOfRoot = () => (exportsCache ??= rootExports());
const where = (decl: ts.Declaration) => decl.getSourceFile().fileName.replace(/.*\/src\//, 'src/');

it('every exported function and class of src/index.ts has TSDoc with @example', () => {
  const missing: string[] = [];
  let checked = 0;
  for (const { name, decls, checker, symbol } of exportsOfRoot()) {
    for (const decl of decls) {
      const isFunction =
        ts.isFunctionDeclaration(decl) ||
        (ts.isVariableDeclaration(decl) && checker.getTypeOfSymbolAtLocation(symbol, decl).getCallSignatures().length > 0);
      const isClass = ts.isClassDeclaration(decl);
      if (!isFunction && !isClass) continue;
      // overloads: the documented signature is the first one
      if (ts.isFunctionDeclaration(decl) && decl.body === undefined && decls.indexOf(decl) > 0) continue;
      checked++;
      const hasExample = ts.getJSDocTags(decl).some((t) => t.tagName.text === 'example');
      const hasDoc = ts.getJSDocCommentsAndTags(decl).length > 0;
      if (!hasDoc || (isFunction && !hasExample)) missing.push(`${name} (${where(decl)})`);
      break;
    }
  }
  expect(checked).toBeGreaterThan(60);
  expect(missing, `exports without TSDoc @example:\n${missing.join('\n')}`).toEqual([]);
}, 60_000);

it('src/index.ts exports nothing from the applications (src/apps)', () => {
  const fromApps = exportsOfRoot().flatMap(({ name, decls }) => decls.filter((d) => where(d).startsWith('src/apps/')).map((d) => `${name} (${where(d)})`));
  expect(fromApps, `root exports declared in src/apps:\n${fromApps.join('\n')}`).toEqual([]);
}, 60_000);
