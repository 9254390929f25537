using System.IO.MemoryMappedFiles;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Training;

/// <summary>
/// Token ids of a corpus stored as little-endian uint16 on disk and memory-mapped, so corpora larger than memory
/// train as well as small ones. Documents are split into train/validation by a hash of their index (deterministic),
/// and each document is followed by the end-of-text token.
/// </summary>
public sealed unsafe class TokenDataset : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _pointer;

    public string Path { get; }
    public long Count { get; }

    private TokenDataset(string path)
    {
        Path = path;
        long bytes = new FileInfo(path).Length;
        if (bytes % 2 != 0) throw new InvalidDataException($"{path}: token file has an odd length ({bytes} bytes)");
        Count = bytes / 2;
        if (Count == 0) throw new InvalidDataException($"{path}: token file is empty");
        _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _file.CreateViewAccessor(0, bytes, MemoryMappedFileAccess.Read);
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _pointer);
        _pointer += _view.PointerOffset;
    }

    public static TokenDataset Open(string path) => new(path);

    public ushort this[long index] => (ulong)index < (ulong)Count ? ((ushort*)_pointer)[index]
        : throw new ArgumentOutOfRangeException(nameof(index), $"{Path}: token {index} is outside {Count} tokens");

    public ReadOnlySpan<ushort> Slice(long start, int length)
    {
        if (start < 0 || length < 0 || start + length > Count)
            throw new ArgumentOutOfRangeException(nameof(start), $"{Path}: tokens [{start}, {start + length}) are outside {Count} tokens");
        return new ReadOnlySpan<ushort>((ushort*)_pointer + start, length);
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    /// <summary>
    /// Tokenizes <paramref name="corpusFiles"/> into <c>train.bin</c> and <c>val.bin</c> under <paramref name="directory"/>
    /// (document i goes to validation when its hash falls under <paramref name="validationFraction"/>).
    /// Returns the token counts. Files are written to temporary names and renamed when complete.
    /// </summary>
    public static (long Train, long Validation) Build(IReadOnlyList<string> corpusFiles, ITokenizer tokenizer, string directory,
        double validationFraction, Action<string, long>? progress = null)
    {
        if (corpusFiles.Count == 0) throw new ArgumentException("no corpus files given");
        if (tokenizer.VocabSize > ushort.MaxValue + 1) throw new ArgumentException($"vocabulary of {tokenizer.VocabSize} does not fit uint16 token files");
        int eot = tokenizer.Eos ?? throw new ArgumentException("the tokenizer has no end-of-text token to separate documents");
        Directory.CreateDirectory(directory);
        string trainPath = System.IO.Path.Combine(directory, "train.bin"), valPath = System.IO.Path.Combine(directory, "val.bin");
        long trainCount = 0, valCount = 0;
        using (var train = new BinaryWriter(File.Create(trainPath + ".tmp")))
        using (var val = new BinaryWriter(File.Create(valPath + ".tmp")))
        {
            long docIndex = 0;
            foreach (var file in corpusFiles)
            {
                foreach (var doc in CorpusReader.Documents(file))
                {
                    bool isVal = IsValidationDocument(docIndex++, validationFraction);
                    var writer = isVal ? val : train;
                    var ids = tokenizer.Encode(doc, addBos: false);
                    foreach (var id in ids) writer.Write((ushort)id);
                    writer.Write((ushort)eot);
                    if (isVal) valCount += ids.Length + 1; else trainCount += ids.Length + 1;
                }
                progress?.Invoke(file, trainCount + valCount);
            }
        }
        if (trainCount == 0 || valCount == 0)
            throw new InvalidDataException($"corpus split left {trainCount} training and {valCount} validation tokens; add text or change the validation fraction");
        File.Move(trainPath + ".tmp", trainPath, overwrite: true);
        File.Move(valPath + ".tmp", valPath, overwrite: true);
        return (trainCount, valCount);
    }

    /// <summary>Whether document <paramref name="index"/> (counted over the corpus files in order) falls in the validation split.</summary>
    public static bool IsValidationDocument(long index, double validationFraction) => Hash(index) < validationFraction;

    /// <summary>A uniform value in [0, 1) from a document index (splitmix64), stable across runs and platforms.</summary>
    private static double Hash(long index)
    {
        ulong z = (ulong)index + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
