using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.WebUi;

public static class DashboardServices
{
    /// <summary>The dashboard's client over the cluster state store and the chart history sampler (the host adds the Razor components).</summary>
    public static IServiceCollection AddDashboard(this IServiceCollection services)
    {
        services.AddCascadingAuthenticationState();
        services.AddSingleton<ClusterHistory>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterHistory>());
        services.AddSingleton<IDashboardClient, DashboardClient>();
        return services;
    }
}
