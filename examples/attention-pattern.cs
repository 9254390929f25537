#:project ../src/Pinpoint.Models/Pinpoint.Models.csproj
#:property PublishAot=false
// One head's attention pattern on a prompt: for each token, how much it attends to each earlier token.
//   dotnet run examples/attention-pattern.cs [MODEL] [LAYER] [HEAD]   (default: the embedded model, layer 0, head 1)
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

string modelPath = args.Length > 0 ? args[0] : Path.Combine((string)AppContext.GetData("EntryPointFileDirectoryPath")!, "..", "models", "default");
int layer = args.Length > 1 ? int.Parse(args[1]) : 0, head = args.Length > 2 ? int.Parse(args[2]) : 1;

using var model = ModelLoader.Load(modelPath);
const string prompt = "Tom had a big red ball. Tom had a big";
string hook = HookNames.Pattern(layer);
var (_, cache) = model.RunWithCache(prompt, name => name == hook);
var pattern = cache[hook][0, head, .., ..]; // [query, key] of sequence 0, this head
var tokens = model.Encode(prompt).Select(id => model.Tokenizer.Decode([id]).Replace(" ", "·")).ToArray();

Console.WriteLine($"{hook}, head {head}: row = query token, columns = key tokens");
Console.WriteLine(new string(' ', 8) + string.Concat(tokens.Select(t => $"{Short(t),7}")));
for (int q = 0; q < tokens.Length; q++)
    Console.WriteLine($"{Short(tokens[q]),8}" + string.Concat(Enumerable.Range(0, tokens.Length).Select(k => k <= q ? $"{pattern[q, k],7:F2}" : "      ·")));

static string Short(string token) => token.Length <= 6 ? token : token[..6];
