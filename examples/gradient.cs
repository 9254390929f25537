#:project ../src/Pinpoint.Models/Pinpoint.Models.csproj
#:property PublishAot=false
// The gradient of a metric with respect to an activation, without building a tape: which positions of the residual
// stream push the prediction towards " the" rather than " a" (gradient × activation, summed over d_model).
//   dotnet run examples/gradient.cs [MODEL] [LAYER]
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

string modelPath = args.Length > 0 ? args[0] : Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "..", "models", "default");
int layer = args.Length > 1 ? int.Parse(args[1]) : 1;
using var model = ModelLoader.Load(modelPath);
const string prompt = "Tom had a big red ball. One day he lost";
string hook = HookNames.ResidPost(layer);

var run = model.Trace(prompt).Save(hook).Grad(hook).Run(Metrics.LogitDiff(model.TokenId(" the"), model.TokenId(" a")));
var activation = run[hook];
var gradient = run.Grad(hook); // [1, tokens, d_model], like the activation
Console.WriteLine($"metric {run.Metric:F3}; gradient × activation at {hook} by position:");
var ids = model.Encode(prompt);
for (int t = 0; t < ids.Length; t++)
{
    double attribution = 0;
    for (int d = 0; d < model.Model.Config.DModel; d++) attribution += gradient[0, t, d] * activation[0, t, d];
    Console.WriteLine($"  {t,2} {model.Tokenizer.Decode([ids[t]]),-10} {attribution,8:F3}");
}
