// tollgate-simulate's chart: the daily figures of each account drawn as an
// SVG a person reads at a glance. One panel per account, three strips over
// the same days: the balance at the end of each day (credits), the jobs of
// each day (created, and refused on top, as stacked bars) and the tier (a
// step line); axes with round tick values, dates under the last strip, one
// legend at the top. render_svg is a pure function of its input: the same
// figures give the same bytes (integer arithmetic for the scales, fixed
// one-decimal coordinates), so a test can compare two runs byte for byte.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace tollgate::examples::simulate {

/// One account's daily series; every vector has one value per day.
struct chart_account {
  std::string id;
  std::vector<std::int64_t> balance;  ///< whole credits available at the end of the day
  std::vector<std::int64_t> tier;     ///< tier id at the end of the day
  std::vector<std::int64_t> created;  ///< jobs admitted (running or queued) that day
  std::vector<std::int64_t> refused;  ///< jobs refused that day, whatever the reason
};

/// What the chart shows: a title, the first day and the accounts.
struct chart_data {
  std::string title;
  std::chrono::sys_days start{};
  std::vector<chart_account> accounts;
};

namespace detail {

// Text made safe inside an XML element or a quoted attribute.
[[nodiscard]] inline std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows no C0 control character but tab, newline and CR.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') out += ' ';
        else out += c;
    }
  }
  return out;
}

// 12345678 -> "12,345,678".
[[nodiscard]] inline std::string thousands(std::int64_t v) {
  const bool negative = v < 0;
  std::string digits = std::to_string(negative ? -static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return negative ? "-" + out : out;
}

// A round axis over [0, max]: a step of 1, 2 or 5 times a power of ten with
// at most `ticks` steps, and the top of the axis (a multiple of the step).
struct axis {
  std::int64_t step = 1;
  std::int64_t top = 1;
};

[[nodiscard]] inline axis round_axis(std::int64_t max, std::int64_t ticks) {
  if (max <= 0) return {1, 1};
  std::int64_t power = 1;
  for (;;) {
    for (const std::int64_t m : {1, 2, 5}) {
      const std::int64_t step = m * power;
      const std::int64_t n = (max + step - 1) / step;
      if (n <= ticks) return {step, n * step};
    }
    power *= 10;
  }
}

// A coordinate with one decimal, the same on every platform.
[[nodiscard]] inline std::string px(double v) { return fmt::format("{:.1f}", v); }

constexpr double chart_width = 960;
constexpr double left = 92, right = 24;       // plot area margins
constexpr double legend_height = 56;
constexpr double balance_height = 150, jobs_height = 130, tier_height = 80;
constexpr double strip_gap = 26, panel_title = 30, dates_height = 34, panel_gap = 18;
constexpr double panel_height =
    panel_title + balance_height + strip_gap + jobs_height + strip_gap + tier_height + dates_height + panel_gap;

constexpr std::string_view balance_colour = "#1f6fb4";
constexpr std::string_view created_colour = "#5aa469";
constexpr std::string_view refused_colour = "#d1495b";
constexpr std::string_view tier_colour = "#7b4fa0";
constexpr std::string_view grid_colour = "#dddddd";

// Where day `d` (0-based) of `days` is centred on the x axis.
[[nodiscard]] inline double day_x(std::size_t d, std::size_t days) {
  const double plot = chart_width - left - right;
  return left + plot * (static_cast<double>(d) + 0.5) / static_cast<double>(days);
}

// A strip's frame: horizontal grid lines from 0 to a.top, y labels from
// `first_label` up, the axis title on the left, rotated.
inline void strip_frame(std::string& out, double top, double height, const axis& a, std::string_view title,
                        std::int64_t first_label = 0) {
  const double x0 = left, x1 = chart_width - right;
  for (std::int64_t v = 0; v <= a.top; v += a.step) {
    const double y = top + height - height * static_cast<double>(v) / static_cast<double>(a.top);
    out += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1"/>)", px(x0), px(y),
                       px(x1), px(y), grid_colour);
    out += '\n';
    if (v >= first_label)
      out += fmt::format(R"(<text x="{}" y="{}" text-anchor="end" font-size="11">{}</text>)", px(x0 - 6),
                         px(y + 4), thousands(v)) + "\n";
  }
  out += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#444444" stroke-width="1"/>)", px(x0),
                     px(top), px(x0), px(top + height)) + "\n";
  const double cy = top + height / 2;
  out += fmt::format(R"svg(<text x="{}" y="{}" text-anchor="middle" font-size="12" transform="rotate(-90 {} {})">{}</text>)svg",
                     px(18), px(cy), px(18), px(cy), xml_escape(title)) + "\n";
}

inline void balance_strip(std::string& out, double top, const chart_account& a) {
  const std::size_t days = a.balance.size();
  std::int64_t max = 0;
  for (const std::int64_t b : a.balance) max = std::max(max, b);
  const axis ax = round_axis(max, 5);
  strip_frame(out, top, balance_height, ax, "credits");
  std::string points;
  for (std::size_t d = 0; d < days; ++d) {
    const double y = top + balance_height -
                     balance_height * static_cast<double>(std::max<std::int64_t>(a.balance[d], 0)) /
                         static_cast<double>(ax.top);
    points += fmt::format("{}{},{}", points.empty() ? "" : " ", px(day_x(d, days)), px(y));
  }
  out += fmt::format(R"(<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>)", points,
                     balance_colour) + "\n";
  for (std::size_t d = 0; d < days; ++d) {
    const double y = top + balance_height -
                     balance_height * static_cast<double>(std::max<std::int64_t>(a.balance[d], 0)) /
                         static_cast<double>(ax.top);
    out += fmt::format(R"(<circle cx="{}" cy="{}" r="2.5" fill="{}"><title>day {}: {} credits</title></circle>)",
                       px(day_x(d, days)), px(y), balance_colour, d + 1, thousands(a.balance[d])) + "\n";
  }
}

inline void jobs_strip(std::string& out, double top, const chart_account& a) {
  const std::size_t days = a.created.size();
  std::int64_t max = 0;
  for (std::size_t d = 0; d < days; ++d) max = std::max(max, a.created[d] + a.refused[d]);
  const axis ax = round_axis(max, 4);
  strip_frame(out, top, jobs_height, ax, "jobs a day");
  const double plot = chart_width - left - right;
  const double bar = std::max(1.0, plot / static_cast<double>(days) * 0.7);
  const auto scale = [&](std::int64_t v) { return jobs_height * static_cast<double>(v) / static_cast<double>(ax.top); };
  for (std::size_t d = 0; d < days; ++d) {
    const double x = day_x(d, days) - bar / 2;
    const double hc = scale(a.created[d]), hr = scale(a.refused[d]);
    const double base = top + jobs_height;
    out += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>day {}: {} created</title></rect>)",
                       px(x), px(base - hc), px(bar), px(hc), created_colour, d + 1, thousands(a.created[d])) + "\n";
    if (a.refused[d] > 0)
      out += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>day {}: {} refused</title></rect>)",
                         px(x), px(base - hc - hr), px(bar), px(hr), refused_colour, d + 1, thousands(a.refused[d])) + "\n";
  }
}

inline void tier_strip(std::string& out, double top, const chart_account& a) {
  const std::size_t days = a.tier.size();
  std::int64_t max = 1;
  for (const std::int64_t t : a.tier) max = std::max(max, t);
  max = std::max<std::int64_t>(max, 5);  // the default table's five tiers: the height means the same in every chart
  const axis ax{1, max};
  strip_frame(out, top, tier_height, ax, "tier", /*first_label=*/1);
  const double plot = chart_width - left - right;
  const double w = plot / static_cast<double>(days);
  std::string points;
  for (std::size_t d = 0; d < days; ++d) {
    const double y = top + tier_height - tier_height * static_cast<double>(a.tier[d]) / static_cast<double>(max);
    const double x0 = left + w * static_cast<double>(d), x1 = x0 + w;
    points += fmt::format("{}{},{} {},{}", points.empty() ? "" : " ", px(x0), px(y), px(x1), px(y));
  }
  out += fmt::format(R"(<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5"/>)", points,
                     tier_colour) + "\n";
}

// Dates under the last strip: about ten labels at most, one every `every` days.
inline void date_axis(std::string& out, double y, std::chrono::sys_days start, std::size_t days) {
  const std::size_t every = days <= 10 ? 1 : static_cast<std::size_t>(round_axis(static_cast<std::int64_t>(days), 10).step);
  out += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#444444" stroke-width="1"/>)", px(left), px(y),
                     px(chart_width - right), px(y)) + "\n";
  for (std::size_t d = 0; d < days; d += every) {
    const std::chrono::year_month_day ymd{start + std::chrono::days(d)};
    const double x = day_x(d, days);
    out += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#444444" stroke-width="1"/>)", px(x), px(y),
                       px(x), px(y + 4)) + "\n";
    out += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" font-size="11">{:02}-{:02}</text>)", px(x),
                       px(y + 16), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())) + "\n";
  }
  out += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" font-size="12">day (UTC)</text>)",
                     px(left + (chart_width - left - right) / 2), px(y + 30)) + "\n";
}

inline void legend(std::string& out, std::string_view title) {
  out += fmt::format(R"(<text x="{}" y="24" font-size="16" font-weight="bold">{}</text>)", px(left), xml_escape(title)) + "\n";
  double x = left;
  const auto item = [&](std::string_view swatch, std::string_view label) {
    out += std::string(swatch) + "\n";
    out += fmt::format(R"(<text x="{}" y="46" font-size="12">{}</text>)", px(x + 22), label) + "\n";
    x += 22 + 7.0 * static_cast<double>(label.size()) + 24;
  };
  item(fmt::format(R"(<line x1="{}" y1="42" x2="{}" y2="42" stroke="{}" stroke-width="2"/>)", px(x), px(x + 16),
                   balance_colour), "balance (credits, end of day)");
  item(fmt::format(R"(<rect x="{}" y="36" width="16" height="10" fill="{}"/>)", px(x), created_colour),
       "jobs created");
  item(fmt::format(R"(<rect x="{}" y="36" width="16" height="10" fill="{}"/>)", px(x), refused_colour),
       "jobs refused");
  item(fmt::format(R"(<line x1="{}" y1="42" x2="{}" y2="42" stroke="{}" stroke-width="2.5"/>)", px(x), px(x + 16),
                   tier_colour), "tier");
}

}  // namespace detail

/**
 * The chart of `data` as a standalone SVG document. Every account's series
 * must have the same number of days (at least one). Deterministic: the same
 * data give the same bytes.
 */
[[nodiscard]] inline std::string render_svg(const chart_data& data) {
  using namespace detail;
  const double height = legend_height + panel_height * static_cast<double>(data.accounts.size());
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="sans-serif">)",
                     px(chart_width), px(height), px(chart_width), px(height)) + "\n";
  out += fmt::format("<title>{}</title>\n", xml_escape(data.title));
  out += fmt::format(R"(<rect x="0" y="0" width="{}" height="{}" fill="#ffffff"/>)", px(chart_width), px(height)) + "\n";
  legend(out, data.title);
  double top = legend_height;
  for (const chart_account& a : data.accounts) {
    const std::size_t days = a.balance.size();
    out += fmt::format(R"(<g id="account-{}">)", xml_escape(a.id)) + "\n";
    out += fmt::format(R"(<text x="{}" y="{}" font-size="14" font-weight="bold">account {}</text>)", px(left),
                       px(top + 18), xml_escape(a.id)) + "\n";
    double y = top + panel_title;
    balance_strip(out, y, a);
    y += balance_height + strip_gap;
    jobs_strip(out, y, a);
    y += jobs_height + strip_gap;
    tier_strip(out, y, a);
    y += tier_height;
    date_axis(out, y, data.start, days);
    out += "</g>\n";
    top += panel_height;
  }
  out += "</svg>\n";
  return out;
}

}  // namespace tollgate::examples::simulate
