/**
 * Every function and class the package root exports carries TSDoc with an `@example`, as the
 * project standards require. The TypeScript compiler resolves each export to its declaration, so a
 * re-export of an undocumented helper is caught too.
 */
import ts from 'typescript';
import { expect, it } from 'vitest';

it('every exported function and class of src/index.ts has TSDoc with @example', () => {
  const entry = new URL('../src/index.ts', import.meta.url).pathname;
  const program = ts.createProgram([entry], { allowImportingTsExtensions: true, noEmit: true, module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry)!;
  const moduleSymbol = checker.getSymbolAtLocation(source)!;
  const missing: string[] = [];
  let checked = 0;
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    for (const decl of symbol.declarations ?? []) {
      const isFunction =
        ts.isFunctionDeclaration(decl) ||
        (ts.isVariableDeclaration(decl) && checker.getTypeOfSymbolAtLocation(symbol, decl).getCallSignatures().length > 0);
      const isClass = ts.isClassDeclaration(decl);
      if (!isFunction && !isClass) continue;
      // overloads: the documented signature is the first one
      if (ts.isFunctionDeclaration(decl) && decl.body === undefined && symbol.declarations!.indexOf(decl) > 0) continue;
      checked++;
      const hasExample = ts.getJSDocTags(decl).some((t) => t.tagName.text === 'example');
      const hasDoc = ts.getJSDocCommentsAndTags(decl).length > 0;
      if (!hasDoc || (isFunction && !hasExample)) {
        missing.push(`${exported.name} (${decl.getSourceFile().fileName.replace(/.*\/src\//, 'src/')})`);
      }
      break;
    }
  }
  expect(checked).toBeGreaterThan(60);
  expect(missing, `exports without TSDoc @example:\n${missing.join('\n')}`).toEqual([]);
}, 60_000);
