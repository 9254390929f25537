using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;

namespace Pinpoint.Models.Architectures;

/// <summary>An opened tensor file as the adapters' tensor source (tensors stay memory-mapped).</summary>
public sealed class TensorFileSource(TensorFile file) : ITensorSource
{
    public string SourcePath => file.Path;
    public IEnumerable<string> Names => file.Names;
    public Tensor? TryGet(string name) => file.TryGetTensor(name, out var t) ? t : null;
}
