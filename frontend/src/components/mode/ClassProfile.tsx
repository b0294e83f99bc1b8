/** The classes a signed mode prefers (selectivity, class mean) and the labels of its top images. */
import { Link } from "react-router";
import { HelpTip } from "../ui/HelpTip";
import type { ClassProfile as Profile } from "../../api/client";
import { count, fmt, integer } from "../../lib/common/format";
import { classPath } from "../../lib/address/paths";

export function ClassProfile({ profile, name, topK }: { profile: Profile; name: string; topK: number }) {
  return (
    <section aria-labelledby="classes-heading" className="class-profile">
      <h2 id="classes-heading">Classes</h2>
      {profile.top_classes.length === 0 ? (
        <p className="muted">
          No class stands out: this mode&apos;s score does not vary over the dataset, so no class is more selective than
          another.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="data-table">
            <caption className="visually-hidden">Classes {name} is most selective for</caption>
            <thead>
              <tr>
                <th scope="col">class</th>
                <th scope="col" className="num">
                  selectivity
                  <HelpTip term="selectivity" />
                </th>
                <th scope="col" className="num">
                  class mean score
                </th>
                <th scope="col" className="num">
                  images
                </th>
              </tr>
            </thead>
            <tbody>
              {profile.top_classes.map((c) => (
                <tr key={c.class_id}>
                  <th scope="row">
                    <Link to={classPath(c.label)}>{c.label}</Link>
                  </th>
                  <td className="num">{fmt(c.selectivity, 2)}</td>
                  <td className="num">{fmt(c.mean)}</td>
                  <td className="num">{integer(c.n_images)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {profile.top_k_labels.length > 0 ? (
        <p className="top-k-labels">
          Labels of its top {count(topK, "image")}:{" "}
          {profile.top_k_labels.map((l, i) => (
            <span key={l.label}>
              {i > 0 ? ", " : ""}
              <Link to={classPath(l.label)}>{l.label}</Link> × {integer(l.count)}
            </span>
          ))}
          .
        </p>
      ) : null}
      <p className="muted small">Selectivity: {profile.selectivity_rule}.</p>
    </section>
  );
}
