using PgPoolConsole.Api.ControlPlane;

namespace PgPoolConsole.Api.Hosting;

/// <summary>Maps the HTTP control plane (see <see cref="ControlPlaneServices"/>).</summary>
internal static class ControlPlane
{
    public static void Map(WebApplication app) => app.MapControlPlane();
}
