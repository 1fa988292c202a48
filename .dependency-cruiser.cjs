/** Import rules of the library's layout (docs/architecture.md); `pnpm run lint` fails on any. */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Import circles, type-only imports included, make the layout unreadable.",
      from: {},
      to: { circular: true },
    },
    {
      name: "testing-stays-outside",
      severity: "error",
      comment: "The public test helpers are built on the library, never the other way round.",
      from: { path: "^packages/docket/src/(?!testing/)", pathNot: "\\.test\\.ts$" },
      to: { path: "^packages/docket/src/testing/" },
    },
    {
      name: "sql-imports-no-feature",
      severity: "error",
      comment: "Statements per table depend on nothing but each other and the shared types.",
      from: { path: "^packages/docket/src/sql/" },
      to: {
        path: "^packages/docket/src/",
        pathNot: ["^packages/docket/src/sql/", "^packages/docket/src/types\\.ts$"],
      },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "(node_modules|dist)/" },
  },
};
