/** Routes: every view is a URL. Pages load lazily so the first page ships only what it needs. */
import { lazy } from "react";
import { BrowserRouter, Route, Routes } from "react-router";
import { Layout } from "./components/layout/Layout";

const HomePage = lazy(() => import("./routes/HomePage"));
const ModelPage = lazy(() => import("./routes/ModelPage"));
const HeadPage = lazy(() => import("./routes/HeadPage"));
const ModePage = lazy(() => import("./routes/ModePage"));
const UploadPage = lazy(() => import("./routes/UploadPage"));
const ModeIndexPage = lazy(() => import("./routes/ModeIndexPage"));
const SearchPage = lazy(() => import("./routes/SearchPage"));
const ClassPage = lazy(() => import("./routes/ClassPage"));
const ClassesPage = lazy(() => import("./routes/ClassesPage"));
const ModelAddressPage = lazy(() => import("./routes/ModelAddressPage"));
const ListsPage = lazy(() => import("./routes/ListsPage"));
const ListPage = lazy(() => import("./routes/ListPage"));
const NotFoundPage = lazy(() => import("./routes/NotFoundPage"));

export function AppRoutes() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<HomePage />} />
        <Route path="m/:model" element={<ModelPage />} />
        <Route path="m/:model/modes" element={<ModeIndexPage />} />
        <Route path="m/:model/:layerSeg/:headSeg" element={<HeadPage />} />
        <Route path="m/:model/:layerSeg/:headSeg/:modeSeg" element={<ModePage />} />
        <Route path="m/*" element={<ModelAddressPage />} />
        <Route path="search" element={<SearchPage />} />
        <Route path="classes" element={<ClassesPage />} />
        <Route path="classes/:label" element={<ClassPage />} />
        <Route path="upload" element={<UploadPage />} />
        <Route path="upload/:uploadId" element={<UploadPage />} />
        <Route path="lists" element={<ListsPage />} />
        <Route path="lists/:listId" element={<ListPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

export function App() {
  return (
    <BrowserRouter>
      <AppRoutes />
    </BrowserRouter>
  );
}
