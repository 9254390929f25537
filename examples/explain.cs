#:project ../src/Pinpoint.Interpretability/Pinpoint.Interpretability.csproj
#:property PublishAot=false
// Explains one prediction from code, as `pinpoint explain` does: why does the model say " the" rather than " a"?
//   dotnet run examples/explain.cs [MODEL]
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;

string modelPath = args.Length > 0 ? args[0] : Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "..", "models", "default");
using var model = ModelLoader.Load(modelPath);
var report = Explainer.Explain(model, ExplainRequest.ArticleExample);

Console.WriteLine($"\"{report.Prompt}\" → logit(' the') − logit(' a') = {report.LogitDiff:F3} (counterfactual \"{report.Counterfactual.Text}\": {report.Counterfactual.LogitDiff:F3})");
Console.WriteLine("Components that carry the difference, by activation patching:");
foreach (var (component, share) in report.PatchingRanking.Take(5)) Console.WriteLine($"  {component,-10} {share,7:P0} of the difference restored");
