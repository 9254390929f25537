#:project ../../src/Pinpoint.Interpretability/Pinpoint.Interpretability.csproj
#:property PublishAot=false
// Builds the space and time probe sets of evals/concepts ({"text","value"} JSONL for `pinpoint probe`) from the
// entity tables of Gurnee & Tegmark in ../shared/concepts (see SpaceTimeDatasets for what is kept and how).
//   dotnet run evals/concepts/build-space-time.cs [SHARED_CONCEPTS_FOLDER] [OUT_FOLDER]
using Pinpoint.Interpretability.Concepts;

var concepts = args.Length > 0 ? args[0] : "../shared/concepts";
var outFolder = args.Length > 1 ? args[1] : "evals/concepts";
foreach (var set in SpaceTimeDatasets.Build(concepts, outFolder, SpaceTimeDatasets.DefaultPerSet))
    Console.WriteLine($"{set.File}: {set.Items} items, {set.Value} from {set.Source}");
