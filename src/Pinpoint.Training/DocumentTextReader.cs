namespace Pinpoint.Training;

/// <summary>Presents a stream of documents as one text, separated by the end-of-text marker (read lazily).</summary>
public sealed class DocumentTextReader(IEnumerable<string> documents) : TextReader
{
    private readonly IEnumerator<string> _documents = documents.GetEnumerator();
    private string _current = "";
    private int _position;

    public override int Read(char[] buffer, int index, int count)
    {
        while (_position == _current.Length)
        {
            if (!_documents.MoveNext()) return 0;
            _current = _documents.Current + "\n" + CorpusReader.DocumentSeparator + "\n";
            _position = 0;
        }
        int n = Math.Min(count, _current.Length - _position);
        _current.CopyTo(_position, buffer, index, n);
        _position += n;
        return n;
    }

    public override int Peek() => _position < _current.Length ? _current[_position] : -1;

    public override int Read() => Peek() is var c and >= 0 ? _current[_position++] : -1;

    protected override void Dispose(bool disposing)
    {
        if (disposing) _documents.Dispose();
        base.Dispose(disposing);
    }
}
