using Pinpoint.Training;

namespace Pinpoint.Tests.Harvesting;

public sealed class CorpusStreamingTests
{
    /// <summary>
    /// A plain-text corpus with neither separators nor blank lines (one endless paragraph) is read in pieces of at
    /// most <see cref="CorpusReader.MaxDocumentChars"/> plus one line, never held whole, and the pieces hold every line in order.
    /// </summary>
    [Fact]
    public void AFileWithoutBreaksIsReadInBoundedPiecesThatKeepEveryLine()
    {
        var path = Path.GetTempFileName() + ".txt";
        try
        {
            var lines = Enumerable.Range(0, 60_000).Select(i => $"line {i} of a corpus that never pauses for a blank line").ToList();
            File.WriteAllLines(path, lines);
            int longest = lines.Max(l => l.Length) + 1;
            var pieces = CorpusReader.Documents(path).ToList();
            Assert.True(new FileInfo(path).Length > 3L * CorpusReader.MaxDocumentChars, "the file must span several pieces");
            Assert.InRange(pieces.Count, 4, 5);
            Assert.All(pieces, p => Assert.InRange(p.Length, 1, CorpusReader.MaxDocumentChars + longest));
            Assert.Equal(lines, pieces.SelectMany(p => p.Split('\n')));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
