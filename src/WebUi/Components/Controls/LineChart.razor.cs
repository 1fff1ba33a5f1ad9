using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Components;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.WebUi.Components.Controls;

/// <summary>One named line of a <see cref="LineChart"/>.</summary>
public sealed record ChartSeries(string Name, IReadOnlyList<ChartPoint> Points);

public partial class LineChart
{
    private const double Width = 600;
    private const double Height = 170;
    private const double Left = 44;
    private const double Top = 8;
    private const double Bottom = 150;
    private const double Mid = (Top + Bottom) / 2;

    private static readonly string[] Colors = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e"];

    private readonly List<Line> _lines = [];
    private double _maximum;

    [Parameter, EditorRequired]
    public string Title { get; set; } = "";

    [Parameter]
    public string Unit { get; set; } = "";

    [Parameter]
    public IReadOnlyList<ChartSeries> Series { get; set; } = [];

    /// <summary>How far back the x axis reaches from the newest point.</summary>
    [Parameter]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(5);

    [Parameter]
    public string EmptyText { get; set; } = "no data yet";

    [Parameter]
    public string? TestId { get; set; }

    private string WindowText => Window.TotalMinutes >= 1 ? $"{Window.TotalMinutes:0} min" : $"{Window.TotalSeconds:0} s";

    protected override void OnParametersSet()
    {
        _lines.Clear();
        var withPoints = Series.Where(s => s.Points.Count > 0).ToList();
        if (withPoints.Count == 0)
        {
            return;
        }

        var end = withPoints.Max(s => s.Points[^1].Time);
        var start = end - Window;
        _maximum = NiceCeiling(withPoints.SelectMany(s => s.Points).Where(p => p.Time >= start).Select(p => p.Value).DefaultIfEmpty(0).Max());
        for (var i = 0; i < Series.Count; i++)
        {
            var series = Series[i];
            if (series.Points.Count == 0)
            {
                continue;
            }

            var points = new StringBuilder();
            foreach (var point in series.Points)
            {
                if (point.Time < start)
                {
                    continue;
                }

                var x = Left + ((point.Time - start).TotalSeconds / Window.TotalSeconds * (Width - Left));
                var y = Bottom - (point.Value / _maximum * (Bottom - Top));
                points.Append(CultureInfo.InvariantCulture, $"{x:0.#},{y:0.#} ");
            }

            _lines.Add(new Line(series.Name, points.ToString().TrimEnd(), Colors[i % Colors.Length], series.Points[^1].Value));
        }
    }

    /// <summary>1, 2 or 5 times a power of ten, at least the value (and at least 1).</summary>
    internal static double NiceCeiling(double value)
    {
        if (value <= 1)
        {
            return 1;
        }

        var power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var step in new[] { 1.0, 2.0, 5.0, 10.0 })
        {
            if (step * power >= value)
            {
                return step * power;
            }
        }

        return 10 * power;
    }

    private static string Format(double value) =>
        value >= 100 ? value.ToString("0", CultureInfo.InvariantCulture)
        : value >= 10 ? value.ToString("0.#", CultureInfo.InvariantCulture)
        : value.ToString("0.##", CultureInfo.InvariantCulture);

    private sealed record Line(string Name, string Points, string Color, double Latest);
}
