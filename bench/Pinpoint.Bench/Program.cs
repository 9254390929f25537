using Pinpoint.Bench;

// Dispatches `bench/run SUITE [--json] [suite flags]` to one suite; each suite lives in its own file.
var suites = new Dictionary<string, (Func<string[], int> Run, string[] Flags, string[] Options)>(StringComparer.OrdinalIgnoreCase)
{
    ["gemm"] = (a => GemmBench.Run(a.Contains("--json")), [], []),
    ["gemv"] = (a => GemvBench.Run(a.Contains("--json"), a.Contains("--prefill")), ["--prefill"], []),
    ["forward"] = (a => ForwardBench.Run(a.Contains("--json")), [], []),
    ["train"] = (a => TrainBench.Run(a.Contains("--json")), [], []),
    ["explain"] = (a => ExplainBench.Run(a.Contains("--json"), a.Contains("--quick")), ["--quick"], []),
    ["hf-reference"] = (a => HfReferenceFixtures.Run(a.Contains("--json")), [], []),
    ["harvest"] = (HarvestBench.Run, ["--no-dashboards"], ["--dashboard-tokens", "--dashboard-hooks", "--child-tokens"]),
    ["sae"] = (a => SaeBench.Run(a.Contains("--json")), [], []),
    ["serve"] = (a => ServeBench.Run(a.Contains("--json")), [], []),
    ["concepts"] = (a => ConceptsBench.Run(a.Contains("--json")), [], []),
    ["scale"] = (ScaleBench.Run, ["--quick", "--no-explain", "--no-timing"], ["--rounds", "--keep", "--quant"]),
    ["dynamics"] = (DynamicsBench.Run, [], ["--run"]),
    ["edit"] = (EditBench.Run, [], ["--tokens"]),
};

var names = string.Join(", ", suites.Keys);
var usage = $"usage: bench/run SUITE [--json] [--help]   (suites: {names}; see README \"Benchmarks\")";
var suiteName = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal));
if (suiteName is null || !suites.TryGetValue(suiteName, out var suite))
{
    Console.Error.WriteLine(suiteName is null ? usage : $"bench: unknown suite '{suiteName}' (suites: {names})");
    return args.Contains("--help") && suiteName is null ? 0 : 2;
}
if (args.Contains("--help"))
{
    Console.WriteLine(suiteName.Equals("scale", StringComparison.OrdinalIgnoreCase) ? ScaleBench.Help : usage);
    return 0;
}
// Everything after the suite name must be a known flag, or an option followed by its value.
var rest = args.SkipWhile(a => a != suiteName).Skip(1).ToArray();
for (int i = 0; i < rest.Length; i++)
{
    if (rest[i] == "--json" || suite.Flags.Contains(rest[i])) continue;
    if (suite.Options.Contains(rest[i]) && i + 1 < rest.Length) { i++; continue; }
    Console.Error.WriteLine($"bench: unexpected argument '{rest[i]}' for {suiteName}\n{usage}");
    return 2;
}
try
{
    return suite.Run(args);
}
catch (BenchSetupException e)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    return 1;
}
