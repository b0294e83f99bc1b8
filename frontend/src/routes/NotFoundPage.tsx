import { Link } from "react-router";
import { useDocumentTitle } from "../lib/useDocumentTitle";

export default function NotFoundPage() {
  useDocumentTitle("Not found");
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        This address is not a page of the atlas. <Link to="/">See the models</Link>.
      </p>
    </section>
  );
}
