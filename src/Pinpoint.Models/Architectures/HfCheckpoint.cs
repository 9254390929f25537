using System.Text.Json;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>Writes a model as a standard Hugging Face folder: config.json, model.safetensors and tokenizer.json.</summary>
public static class HfCheckpoint
{
    public static void Write(string directory, ITrainableArchitecture architecture, TransformerConfig config, TransformerWeights weights,
        string? tokenizerJson, DType storeAs)
    {
        Directory.CreateDirectory(directory);
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"),
            architecture.HfTensors(config, weights).Select(p => KeyValuePair.Create(p.Name, p.Tensor)),
            new Dictionary<string, string> { ["format"] = "pt" }, storeAs);
        var fields = architecture.HfConfigFields(config);
        fields["torch_dtype"] = storeAs switch { DType.BF16 => "bfloat16", DType.F16 => "float16", _ => "float32" };
        AtomicFile.Write(Path.Combine(directory, "config.json"),
            s => JsonSerializer.Serialize(s, fields, new JsonSerializerOptions { WriteIndented = true }));
        if (tokenizerJson is not null && Path.GetFullPath(tokenizerJson) != Path.GetFullPath(Path.Combine(directory, "tokenizer.json")))
            AtomicFile.Write(Path.Combine(directory, "tokenizer.json"), s => { using var f = File.OpenRead(tokenizerJson); f.CopyTo(s); });
    }
}
