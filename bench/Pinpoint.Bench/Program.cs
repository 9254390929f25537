using Pinpoint.Bench;

// Dispatches `bench/run SUITE [--json]` to one suite; each suite lives in its own file.
var suites = new Dictionary<string, Func<bool, int>>(StringComparer.OrdinalIgnoreCase)
{
    ["gemm"] = GemmBench.Run,
    ["forward"] = ForwardBench.Run,
    ["train"] = TrainBench.Run,
    ["explain"] = ExplainBench.Run,
    ["hf-reference"] = HfReferenceFixtures.Run,
    ["harvest"] = HarvestBench.Run,
    ["serve"] = ServeBench.Run,
};

var names = string.Join(", ", suites.Keys);
var positional = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
var unknownFlags = args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a != "--json").ToArray();
if (positional.Length != 1 || unknownFlags.Length > 0)
{
    Console.Error.WriteLine($"usage: bench/run SUITE [--json]   (suites: {names})");
    return 2;
}
if (!suites.TryGetValue(positional[0], out var suite))
{
    Console.Error.WriteLine($"bench: unknown suite '{positional[0]}' (suites: {names})");
    return 2;
}
try
{
    return suite(args.Contains("--json"));
}
catch (BenchSetupException e)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    return 1;
}
