#:project ../src/Pinpoint.Models/Pinpoint.Models.csproj
#:property PublishAot=false
// Activation patching, one head at a time: run the counterfactual prompt with one head's output (hook_z) taken from
// the clean prompt, and print how much of the clean-vs-counterfactual logit difference that head alone restores.
//   dotnet run examples/patch-head.cs [MODEL]
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

string modelPath = args.Length > 0 ? args[0] : Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "..", "models", "default");
using var model = ModelLoader.Load(modelPath);
const string clean = "Tom had a big red ball. One day he lost", counterfactual = "Tom had a big red ball. One day he bought";
var metric = Metrics.LogitDiff(model.TokenId(" the"), model.TokenId(" a"));
var c = model.Model.Config;

var zHooks = Enumerable.Range(0, c.NLayers).Select(HookNames.Z).ToArray();
var cleanRun = model.Trace(clean).Save(zHooks).Run(metric);
double cleanDiff = cleanRun.Metric!.Value, cfDiff = model.Trace(counterfactual).Run(metric).Metric!.Value;
Console.WriteLine($"logit(' the') − logit(' a'): clean {cleanDiff:F3}, counterfactual {cfDiff:F3}");

for (int layer = 0; layer < c.NLayers; layer++)
{
    var restored = Enumerable.Range(0, c.NHeads).Select(head =>
    {
        var source = cleanRun[HookNames.Z(layer)][.., .., head];
        double patched = model.Trace(counterfactual).Edit(HookNames.Z(layer), z => z[.., .., head].Assign(source)).Run(metric).Metric!.Value;
        return (patched - cfDiff) / (cleanDiff - cfDiff);
    });
    Console.WriteLine($"layer {layer}: " + string.Join(" ", restored.Select(r => $"{r,6:P0}")));
}
